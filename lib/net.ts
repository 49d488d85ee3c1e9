/** Loopback ports and listening, for servers and for the harnesses that start them. */
import { createServer, type Server as NetServer } from 'node:net';

/**
 * A TCP port free on `host` at the time of asking (the OS picks it; another process may take it before the
 * caller binds it, so callers that can listen on port 0 themselves should).
 */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen(0, host, () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolvePort(port));
    });
  });
}

/** Listens on `port` (0: any) and `host` (undefined: every interface); resolves to the port, rejects on a bind error. */
export function listen(server: NetServer, port: number, host?: string): Promise<number> {
  return new Promise((resolveListen, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      const addr = server.address();
      resolveListen(typeof addr === 'object' && addr ? addr.port : port);
    });
  });
}
