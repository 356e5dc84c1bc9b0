"""The application: what stands on every other package and assembles them.

The `telecenter` command (cli), the running server (service: database pool,
call records, FastAGI listener, the AMI connection, the SIP guard, the web
admin), the list of FastAGI routes (routes) and the demo. The only package
that imports admin_web.
"""
