# Multi-host test harness for Plexus (see ../README.md): fabric, ranks, guard, cases.
