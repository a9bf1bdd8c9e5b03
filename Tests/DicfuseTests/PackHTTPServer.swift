// A smart-HTTP git server for tests that need a pack of their own choosing (chunked, corrupt,
// refused): a few lines of Python from Debian, started on loopback with port 0, writing its
// port to a file. It advertises protocol v2 with `fetch=filter` and answers every POST with
// the given pack (or 403); it does not look at what was asked for.
import Foundation
import Glibc

enum TestServerError: Error { case didNotStart }

enum PackHTTPServer {
    /// Serves the capability advertisement on GET and, on POST, either 403 or `pack` as a
    /// sideband-1 packfile section in chunks of 1000 bytes. Returns the process and its port.
    static func start(pack: [UInt8], refuseFetch: Bool) throws -> (Process, Int) {
        let directory = NSTemporaryDirectory() + "http-stream-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try Data(pack).write(to: URL(fileURLWithPath: directory + "/pack"))
        let script = """
        import http.server, sys
        pack = open(sys.argv[1], 'rb').read()
        refuse = sys.argv[2] == '1'
        def pkt(data): return b'%04x' % (len(data) + 4) + data
        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = 'HTTP/1.1'
            def log_message(self, *args): pass
            def do_GET(self):
                body = pkt(b'version 2\\n') + pkt(b'fetch=filter\\n') + b'0000'
                self.send_response(200); self.send_header('Content-Length', str(len(body))); self.end_headers()
                self.wfile.write(body)
            def do_POST(self):
                self.rfile.read(int(self.headers['Content-Length']))
                if refuse:
                    self.send_response(403); self.send_header('Content-Length', '0'); self.end_headers(); return
                body = pkt(b'packfile\\n')
                for start in range(0, len(pack), 60000): body += pkt(b'\\x01' + pack[start:start + 60000])
                body += b'0000'
                self.send_response(200); self.send_header('Transfer-Encoding', 'chunked'); self.end_headers()
                for start in range(0, len(body), 1000):
                    part = body[start:start + 1000]
                    self.wfile.write(b'%x\\r\\n' % len(part) + part + b'\\r\\n')
                self.wfile.write(b'0\\r\\n\\r\\n')
        server = http.server.HTTPServer(('127.0.0.1', 0), Handler)
        open(sys.argv[3] + '.tmp', 'w').write(str(server.server_address[1]))
        import os; os.rename(sys.argv[3] + '.tmp', sys.argv[3])
        server.serve_forever()
        """
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        let portFile = directory + "/port"
        process.arguments = ["-c", script, directory + "/pack", refuseFetch ? "1" : "0", portFile]
        try process.run()
        for _ in 0..<100 where !FileManager.default.fileExists(atPath: portFile) { usleep(50_000) }
        let text = (try? String(contentsOfFile: portFile, encoding: .utf8)) ?? ""
        guard let port = Int(text) else {
            stop(process)
            throw TestServerError.didNotStart
        }
        return (process, port)
    }

    /// SIGKILL: the test process may block SIGTERM, and a child inherits the blocked mask.
    static func stop(_ process: Process) {
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }
}
