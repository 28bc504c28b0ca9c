"""Generic elements: queue, identity, capsfilter, fakesink."""
