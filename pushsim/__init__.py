"""pushsim: a local stand-in for FCM, APNs and Web Push push services.

Speaks their wire protocols so that Pushcart's real provider adapters (and the
real client libraries under them) can be developed, tested, demonstrated and
benchmarked on a machine that never reaches Google or Apple. See README.md.
"""
