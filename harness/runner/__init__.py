"""Running probes: targets x clients under hard deadlines, sharded if asked."""
