import sys

from mediaplane.compositor.engine import main

main(sys.argv[1])
