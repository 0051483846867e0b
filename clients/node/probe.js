// tlsmatrix node probe: one TLS connection with Node's own `tls` module, one JSON line out.
// Arguments arrive as one JSON object in argv[2] (never interpolated into code):
//   {address, port, host, servername|null, path, ca|null (PEM file), timeout_ms}
// `ca` replaces Node's bundled Mozilla store, as the option does for any Node program.
// With argv[2] == '--serve' it is a long-lived worker: one {"id", "args"} request per stdin
// line, one {"id", "result"} line per answer, probes running concurrently. Each probe is a
// fresh tls.connect: a new SecureContext built from its own options (the `ca` file read
// again), no `session` option, so nothing (trust, sessions) carries from one to the next.
'use strict';
const tls = require('tls');
const fs = require('fs');
const readline = require('readline');

function probe(a, report) {
  let done = false;
  function finish(result) {
    if (done) return;
    done = true;
    report(result);
  }
  const opts = {
    host: a.address,
    port: a.port,
    rejectUnauthorized: true,
    ALPNProtocols: ['http/1.1'],
    // The name is checked whatever address we connect to (curl's --resolve semantics).
    checkServerIdentity: (_host, cert) => tls.checkServerIdentity(a.host, cert),
  };
  if (a.servername) opts.servername = a.servername;
  if (a.ca) opts.ca = fs.readFileSync(a.ca);

  // Node's own timeouts do not bound a stalled handshake reliably: a hard timer too.
  let sock;
  // In a long-lived worker a stalled connection must not outlive its probe: destroy it.
  const timer = setTimeout(() => {
    finish({ ok: false, code: 'ETIMEDOUT', message: 'deadline reached' });
    if (sock) sock.destroy();
  }, a.timeout_ms);
  timer.unref();

  try {
    sock = tls.connect(opts);
  } catch (err) {
    finish({ ok: false, code: err.code || null, message: String(err && err.message) });
  }
  if (sock) {
    sock.setTimeout(a.timeout_ms, () => {
      finish({ ok: false, code: 'ETIMEDOUT', message: 'socket timeout', protocol: sock.getProtocol() });
      sock.destroy();
    });
    let secured = false;
    sock.on('secureConnect', () => {
      secured = true;
      const protocol = sock.getProtocol();
      const hostHeader = a.host.includes(':') ? `[${a.host}]` : a.host;
      sock.write(`GET ${a.path} HTTP/1.1\r\nHost: ${hostHeader}:${a.port}\r\n` +
        'User-Agent: tlsmatrix-node\r\nConnection: close\r\n\r\n');
      let data = '';
      const answered = () => {
        const line = data.split('\r\n')[0];
        finish({ ok: true, authorized: sock.authorized, protocol, status: line || null,
        session_reused: sock.isSessionReused() });
        sock.destroy();
      };
      sock.on('data', (chunk) => { data += chunk.toString('latin1'); if (data.includes('\r\n')) answered(); });
      sock.on('end', answered);
      sock.on('close', answered);
    });
    sock.on('error', (err) => {
      let protocol = null;
      try { protocol = sock.getProtocol(); } catch (_) { /* not connected */ }
      // `secured`: the error came after the handshake (the certificate had been accepted);
      // the adapter decides from err.code what that means (an alert still refuses).
      finish({
        ok: false,
        secured,
        code: err.code || null,
        reason: err.reason || null,
        message: String(err.message),
        library: err.library || null,
        protocol,
      });
    });
  }
}

if (process.argv[2] === '--serve') {
  const write = (line) => process.stdout.write(JSON.stringify(line) + '\n');
  readline.createInterface({ input: process.stdin }).on('line', (line) => {
    let req;
    try { req = JSON.parse(line); } catch (_) { return; }
    try {
      probe(req.args, (result) => write({ id: req.id, result }));
    } catch (err) {
      write({ id: req.id, result: { ok: false, code: null, message: String(err && err.message) } });
    }
  }).on('close', () => process.exit(0));
  write({ ready: true });
} else {
  probe(JSON.parse(process.argv[2]),
    (result) => process.stdout.write(JSON.stringify(result) + '\n', () => process.exit(0)));
}
