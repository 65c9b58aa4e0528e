# Runs a Python script with an argv read from a 0600 file, so passwords stay out of /proc/*/cmdline.
# Usage: python -c "$(cat py_launcher.py)" ARGFILE, where ARGFILE holds a JSON list [script, arg...].
# Works under Python 2.7 (EL6's CloudStack 3.0.2 scripts) and 3.
import json, os, runpy, sys
with open(sys.argv[1]) as f:
    argv = json.load(f)
if sys.version_info[0] < 3:
    argv = [a.encode("utf-8") for a in argv]
sys.argv = argv
sys.path[0] = os.path.dirname(os.path.abspath(argv[0]))
runpy.run_path(argv[0], run_name="__main__")
