from bpquiz.cli import main

main()
