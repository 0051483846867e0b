from tlsmatrix.cli import main

raise SystemExit(main())
