"""The built-in demo target: a small real HTTP service perfrun starts for `base_url: demo`.

`python -m perfrun.demo` serves it; `DemoTarget` runs that as a child process.
"""

from perfrun.demo.process import DemoTarget

__all__ = ["DemoTarget"]
