"""The command line: parse flags, call one library function, print. Errors are printed once, in
main.py.

Only click and the platform records (and the commands they declare) are imported at start-up;
each command imports what it needs when it runs, so `metricsync --help` stays fast. This package
imports none of its modules: a platform's commands import cli.options, and the registry they are
listed in is imported by cli.main.
"""
