"""Running the parts: FreeRADIUS and nfacctd configuration, the NAS clients, the accounting
spool reader and follower, and starting, restarting and stopping the servers.

Shared by ``cli`` (``ebs up``, ``ebs acct drain``) and ``worker`` (``ebs.nas_changed``,
``ebs.acct_drain``), which may not import each other. It may import ``billing``;
``billing`` never imports it.
"""
