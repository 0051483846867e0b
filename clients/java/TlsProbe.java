// tlsmatrix Java probe: one TLS connection with JSSE, one JSON line on stdout.
// Usage: java TlsProbe ADDRESS PORT HOST PATH TIMEOUT_MS (BUNDLE.pem | -)
// Connects to ADDRESS, sends SNI for HOST and checks HOST (endpoint identification "HTTPS"),
// as curl's --resolve does. BUNDLE.pem, when given, is the only trust (an in-memory
// KeyStore of its certificates); "-" keeps the JVM default (cacerts or
// -Djavax.net.ssl.trustStore). Never follows redirects: it reads the status line only.
import java.io.ByteArrayOutputStream;
import java.io.FileInputStream;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.security.KeyStore;
import java.security.cert.CertPathValidatorException;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import javax.net.ssl.SNIHostName;
import javax.net.ssl.SNIServerName;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLHandshakeException;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManagerFactory;

public final class TlsProbe {
    public static void main(String[] args) {
        String protocol = null;
        try {
            String address = args[0];
            int port = Integer.parseInt(args[1]);
            String host = args[2];
            String path = args[3];
            int timeoutMs = Integer.parseInt(args[4]);
            String bundle = args[5];

            SSLContext ctx = bundle.equals("-") ? SSLContext.getDefault() : contextFor(bundle);
            Socket raw = new Socket();
            raw.connect(new InetSocketAddress(InetAddress.getByName(address), port), timeoutMs);
            raw.setSoTimeout(timeoutMs);
            SSLSocket socket = (SSLSocket) ctx.getSocketFactory().createSocket(raw, host, port, true);
            SSLParameters params = socket.getSSLParameters();
            params.setEndpointIdentificationAlgorithm("HTTPS");
            if (!isIpLiteral(host)) {
                List<SNIServerName> names = new ArrayList<>();
                // SNI carries no trailing dot (RFC 6066); SNIHostName refuses one.
                names.add(new SNIHostName(host.endsWith(".") ? host.substring(0, host.length() - 1) : host));
                params.setServerNames(names);
            }
            socket.setSSLParameters(params);
            socket.startHandshake();
            protocol = socket.getSession().getProtocol();

            String hostHeader = host.contains(":") ? "[" + host + "]" : host;
            String status = null;
            try {
                OutputStream out = socket.getOutputStream();
                out.write(("GET " + path + " HTTP/1.1\r\nHost: " + hostHeader + ":" + port
                        + "\r\nUser-Agent: tlsmatrix-java\r\nConnection: close\r\n\r\n")
                        .getBytes(StandardCharsets.ISO_8859_1));
                out.flush();
                status = readLine(socket.getInputStream());
            } catch (Exception afterHandshake) {
                // A TLS alert after the handshake is still the server refusing it (TLS 1.3
                // client authentication fails after our Finished). Anything else broke the
                // HTTP exchange after the certificate was accepted.
                if (afterHandshake instanceof SSLHandshakeException
                        || String.valueOf(afterHandshake.getMessage()).contains("alert")) {
                    throw afterHandshake;
                }
                status = "certificate accepted; then " + afterHandshake;
            }
            socket.close();
            System.out.println("{\"ok\":true,\"protocol\":" + q(protocol) + ",\"status\":" + q(status) + "}");
        } catch (Throwable t) {
            StringBuilder chain = new StringBuilder();
            StringBuilder reasons = new StringBuilder();
            int depth = 0;
            for (Throwable c = t; c != null && depth < 12; c = c.getCause(), depth++) {
                if (depth > 0) chain.append(',');
                chain.append("{\"class\":").append(q(c.getClass().getName()))
                     .append(",\"message\":").append(q(c.getMessage())).append('}');
                if (c instanceof CertPathValidatorException) {
                    if (reasons.length() > 0) reasons.append(',');
                    reasons.append(q(String.valueOf(((CertPathValidatorException) c).getReason())));
                }
            }
            System.out.println("{\"ok\":false,\"protocol\":" + q(protocol) + ",\"chain\":[" + chain
                    + "],\"reasons\":[" + reasons + "]}");
        }
        System.out.flush();
    }

    private static SSLContext contextFor(String bundle) throws Exception {
        KeyStore store = KeyStore.getInstance(KeyStore.getDefaultType());
        store.load(null, null);
        Collection<? extends Certificate> certs;
        try (InputStream in = new FileInputStream(bundle)) {
            certs = CertificateFactory.getInstance("X.509").generateCertificates(in);
        }
        int i = 0;
        for (Certificate cert : certs) {
            store.setCertificateEntry("ca" + (i++), cert);
        }
        TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        tmf.init(store);
        SSLContext ctx = SSLContext.getInstance("TLS");
        ctx.init(null, tmf.getTrustManagers(), null);
        return ctx;
    }

    private static boolean isIpLiteral(String host) {
        return host.contains(":") || host.matches("[0-9.]+");
    }

    private static String readLine(InputStream in) throws Exception {
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        int b;
        while ((b = in.read()) != -1 && b != '\n' && buf.size() < 8192) {
            if (b != '\r') buf.write(b);
        }
        return buf.size() == 0 ? null : buf.toString(StandardCharsets.ISO_8859_1);
    }

    private static String q(String s) {
        if (s == null) return "null";
        StringBuilder b = new StringBuilder("\"");
        for (char ch : s.toCharArray()) {
            switch (ch) {
                case '"': b.append("\\\""); break;
                case '\\': b.append("\\\\"); break;
                case '\n': b.append("\\n"); break;
                case '\r': b.append("\\r"); break;
                case '\t': b.append("\\t"); break;
                default:
                    if (ch < 0x20) b.append(String.format("\\u%04x", (int) ch));
                    else b.append(ch);
            }
        }
        return b.append('"').toString();
    }
}
