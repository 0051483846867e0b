"""The certificate chain: capture what a server sends, analyse it, build paths, fix it."""
