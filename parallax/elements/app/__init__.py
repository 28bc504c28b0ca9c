"""Application elements: push numpy arrays in (appsrc), pull buffers out (appsink)."""
