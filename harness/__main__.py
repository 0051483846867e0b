from tlsmatrix.cli import entry

entry()
