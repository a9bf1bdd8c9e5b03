// Builds the Dicfuse layer for --repo: open the cache, resolve the ref and fetch the trees
// (with a summary line; the fetch needs no terminal), then the layer itself.
import Dicfuse
import Logging
import Overlay

enum RepositoryLayer {
    static func open(_ settings: RepositorySettings, logger: Logger) throws -> any ReadableLayer {
        let store: ObjectStore
        do { store = try ObjectStore(root: settings.cache) } catch {
            throw SetupFailure(message: "cannot use cache directory \(settings.cache): \(error)", status: ExitStatus.invalidSetup)
        }
        var dicfuseLogger = logger
        dicfuseLogger[metadataKey: "repo"] = "\(settings.displayURL)"
        let source: DicfuseSource
        do {
            source = try DicfuseSetup.prepare(repository: settings.url, ref: settings.ref, store: store,
                                              timeout: settings.fetchTimeout, lazyTrees: settings.lazyTrees, logger: dicfuseLogger)
        } catch {
            throw SetupFailure(message: "\(settings.displayURL): \(error)", status: ExitStatus.runtimeFailure)
        }
        do {
            return try DicfuseLayer(name: "repo \(settings.displayURL)@\(source.commit.hex.prefix(12))", store: store, remote: source.remote,
                                    commit: source.commit, prefetch: settings.prefetch, lazyTrees: settings.lazyTrees,
                                    logger: dicfuseLogger)
        } catch {
            throw SetupFailure(message: "\(settings.displayURL): the cached commit \(source.commit.hex) is unreadable: \(error)", status: ExitStatus.runtimeFailure)
        }
    }
}
