from report.cli import main

# Keras loads in the commands that train or read results (report.cli.load_backend),
# not here: --help and init answer without it, in a fraction of a second.
raise SystemExit(main())
