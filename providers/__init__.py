"""Push providers behind one interface (see base.py): FCM, APNs and Web Push."""
