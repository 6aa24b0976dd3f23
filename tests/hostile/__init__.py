"""Tests of photosim under hostile conditions: power cuts, races, crafted libraries, full
disks, odd library locations (issue 18)."""
