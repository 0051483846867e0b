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
import java.security.PublicKey;
import java.security.interfaces.DSAKey;
import java.security.interfaces.ECKey;
import java.security.interfaces.RSAKey;
import java.security.cert.X509Certificate;
import java.security.cert.CertPathValidatorException;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import javax.net.ssl.SNIHostName;
import javax.net.ssl.SNIServerName;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManagerFactory;

public final class TlsProbe {
    public static void main(String[] args) throws Exception {
        if (args.length == 1 && args[0].equals("--serve")) {
            serve();
            return;
        }
        System.out.println(probe(args));
        System.out.flush();
    }

    // Server mode: one request per stdin line, "ID<TAB>arg<TAB>arg..." with every argument
    // base64 (the one-shot argv); one line {"id":ID,"result":{...}} per answer, probes
    // running concurrently. Every probe builds its own SSLContext and TrustManager, and
    // the JDK's AIA download cache is emptied first, so nothing fetched or negotiated for
    // one probe helps another.
    private static void serve() throws Exception {
        java.io.BufferedReader in = new java.io.BufferedReader(
                new java.io.InputStreamReader(System.in, StandardCharsets.UTF_8));
        java.util.concurrent.ExecutorService pool = java.util.concurrent.Executors.newCachedThreadPool(r -> {
            Thread t = new Thread(r);
            t.setDaemon(true);
            return t;
        });
        emit("{\"ready\":true}");
        String line;
        while ((line = in.readLine()) != null) {
            String[] fields = line.split("\t", -1);
            String id = fields[0];
            if (!id.matches("[0-9]+")) continue;
            String[] args = new String[fields.length - 1];
            java.util.Base64.Decoder b64 = java.util.Base64.getDecoder();
            for (int i = 1; i < fields.length; i++) {
                args[i - 1] = new String(b64.decode(fields[i]), StandardCharsets.UTF_8);
            }
            pool.execute(() -> {
                String result;
                try {
                    forgetAiaDownloads();
                    result = probe(args);
                } catch (Throwable t) {
                    result = "{\"ok\":false,\"chain\":[{\"class\":" + q(t.getClass().getName())
                            + ",\"message\":" + q(t.getMessage()) + "}],\"reasons\":[]}";
                }
                emit("{\"id\":" + id + ",\"result\":" + result + "}");
            });
        }
        System.exit(0);
    }

    private static synchronized void emit(String line) {
        System.out.println(line);
        System.out.flush();
    }

    // sun.security.provider.certpath.URICertStore keeps every caIssuers download in a
    // static cache (per URI, re-checked only after 30 s): a worker serving many probes
    // must empty it before each, or the second probe would be helped by the first's
    // fetch. Needs --add-opens java.base/sun.security.provider.certpath and
    // java.base/sun.security.util; fails loudly (the probe reports it) when refused.
    private static void forgetAiaDownloads() throws Exception {
        Class<?> store = Class.forName("sun.security.provider.certpath.URICertStore");
        java.lang.reflect.Field field = store.getDeclaredField("certStoreCache");
        field.setAccessible(true);
        Object cache = field.get(null);
        java.lang.reflect.Method clear = Class.forName("sun.security.util.Cache").getDeclaredMethod("clear");
        clear.setAccessible(true);
        clear.invoke(cache);
    }

    static String probe(String[] args) {
        String protocol = null;
        boolean secured = false;
        Socket raw = null;  // closed whatever happens: a long-lived worker must not leak it
        try {
            String address = args[0];
            int port = Integer.parseInt(args[1]);
            String host = args[2];
            String path = args[3];
            int timeoutMs = Integer.parseInt(args[4]);
            String bundle = args[5];

            // A new context every probe, never SSLContext.getDefault() (one shared session
            // cache): init(null, null, null) reads the default trust (cacerts or
            // -Djavax.net.ssl.trustStore) afresh.
            SSLContext ctx = bundle.equals("-") ? defaultContext() : contextFor(bundle);
            ctx.getClientSessionContext().setSessionCacheSize(1);
            raw = new Socket();
            raw.connect(new InetSocketAddress(InetAddress.getByName(address), port), timeoutMs);
            raw.setSoTimeout(timeoutMs);
            SSLSocket socket = (SSLSocket) ctx.getSocketFactory().createSocket(raw, host, port, true);
            SSLParameters params = socket.getSSLParameters();
            params.setEndpointIdentificationAlgorithm("HTTPS");
            if (!isIpLiteral(host)) {
                // SNI carries no trailing dot (RFC 6066); SNIHostName refuses one. A name
                // the class refuses (an underscore) is sent without SNI, as the JDK's own
                // socket code does (Utilities.rawToSNIHostName), never an exception.
                String sni = host.endsWith(".") ? host.substring(0, host.length() - 1) : host;
                try {
                    List<SNIServerName> names = new ArrayList<>();
                    names.add(new SNIHostName(sni));
                    params.setServerNames(names);
                } catch (IllegalArgumentException refused) {
                    params.setServerNames(new ArrayList<>());
                }
            }
            socket.setSSLParameters(params);
            socket.startHandshake();
            protocol = socket.getSession().getProtocol();

            secured = true;  // from here on, the certificate has been accepted

            String hostHeader = host.contains(":") ? "[" + host + "]" : host;
            OutputStream out = socket.getOutputStream();
            out.write(("GET " + path + " HTTP/1.1\r\nHost: " + hostHeader + ":" + port
                    + "\r\nUser-Agent: tlsmatrix-java\r\nConnection: close\r\n\r\n")
                    .getBytes(StandardCharsets.ISO_8859_1));
            out.flush();
            String status = readLine(socket.getInputStream());
            socket.close();
            return "{\"ok\":true,\"protocol\":" + q(protocol) + ",\"status\":" + q(status) + "}";
        } catch (Throwable t) {
            StringBuilder chain = new StringBuilder();
            StringBuilder reasons = new StringBuilder();
            StringBuilder extra = new StringBuilder();
            boolean described = false;
            int depth = 0;
            for (Throwable c = t; c != null && depth < 12; c = c.getCause(), depth++) {
                if (depth > 0) chain.append(',');
                chain.append("{\"class\":").append(q(c.getClass().getName()))
                     .append(",\"message\":").append(q(c.getMessage())).append('}');
                if (c instanceof CertPathValidatorException) {
                    CertPathValidatorException e = (CertPathValidatorException) c;
                    if (reasons.length() > 0) reasons.append(',');
                    reasons.append(q(String.valueOf(e.getReason())));
                    if (!described) {
                        described = true;
                        describe(e, extra);
                    }
                }
                String validatorError = validatorErrorType(c);
                if (validatorError != null && extra.indexOf("validator_error") < 0) {
                    extra.append(",\"validator_error\":").append(q(validatorError));
                }
            }
            // secured: the failure came after the handshake (a TLS alert is still a refusal,
            // TLS 1.3 client authentication; the adapter decides from the signal).
            return "{\"ok\":false,\"secured\":" + secured + ",\"protocol\":" + q(protocol)
                    + ",\"chain\":[" + chain
                    + "],\"reasons\":[" + reasons + "]" + extra + "}";
        } finally {
            if (raw != null) {
                try {
                    raw.close();
                } catch (Exception ignored) {
                    // already closed
                }
            }
        }
    }

    private static SSLContext defaultContext() throws Exception {
        SSLContext ctx = SSLContext.getInstance("TLS");
        ctx.init(null, null, null);
        return ctx;
    }

    // The failing certificate of a CertPathValidatorException: its index in the path
    // (0 = leaf), the reason's enum class, and for an algorithm constraint the failing
    // certificate's signature algorithm and the smaller of its own and its issuer's keys.
    private static void describe(CertPathValidatorException e, StringBuilder out) {
        int index = e.getIndex();
        out.append(",\"index\":").append(index);
        out.append(",\"reason_class\":").append(q(e.getReason().getClass().getSimpleName()));
        if (e.getCertPath() == null || index < 0) return;
        List<? extends Certificate> certs = e.getCertPath().getCertificates();
        if (index >= certs.size() || !(certs.get(index) instanceof X509Certificate)) return;
        X509Certificate cert = (X509Certificate) certs.get(index);
        out.append(",\"sig_alg\":").append(q(cert.getSigAlgName()));
        PublicKey key = cert.getPublicKey();
        int bits = keyBits(key);
        if (index + 1 < certs.size()) {
            PublicKey issuer = certs.get(index + 1).getPublicKey();
            int issuerBits = keyBits(issuer);
            if (issuerBits > 0 && (bits <= 0 || issuerBits < bits)) {
                key = issuer;
                bits = issuerBits;
            }
        }
        out.append(",\"key_alg\":").append(q(key.getAlgorithm()));
        if (bits > 0) out.append(",\"key_bits\":").append(bits);
    }

    private static int keyBits(PublicKey key) {
        if (key instanceof RSAKey) return ((RSAKey) key).getModulus().bitLength();
        if (key instanceof DSAKey) return ((DSAKey) key).getParams().getP().bitLength();
        if (key instanceof ECKey) return ((ECKey) key).getParams().getCurve().getField().getFieldSize();
        return -1;
    }

    // sun.security.validator.ValidatorException.getErrorType(), by reflection (the
    // package is exported to us with --add-exports); null for any other exception.
    private static String validatorErrorType(Throwable c) {
        if (!c.getClass().getName().equals("sun.security.validator.ValidatorException")) return null;
        try {
            Object type = c.getClass().getMethod("getErrorType").invoke(c);
            return type == null ? null : String.valueOf(type);
        } catch (ReflectiveOperationException | RuntimeException unavailable) {
            return null;
        }
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
