from rv_eval.cli import main

raise SystemExit(main())
