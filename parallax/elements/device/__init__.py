"""Device sources (v4l2src): capture from kernel drivers, timed by their timestamps."""
