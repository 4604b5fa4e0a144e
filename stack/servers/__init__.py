"""Private servers of the stack: PostgreSQL, Redis, FreeRADIUS, nfacctd.

``ebs up`` runs them under ``./var`` on the configured ports; the test harness and
``ebs bench`` run them in temporary directories on free ports. Same code, so what the
tests start is what operators run.
"""
