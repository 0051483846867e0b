"""``tlsmatrix preflight``: check certificate files before they are deployed.

:mod:`.inputs` reads the files as a user holds them (cloud import fields, a fullchain, a
PKCS#12 bundle, a Kubernetes TLS secret), :mod:`.lint` names what is wrong with them, one
line per problem with its fix, and :mod:`.serve` serves them on 127.0.0.1 from a private
temporary directory so the real clients can judge them."""
