from sequin_emulator.cli import main

raise SystemExit(main())
