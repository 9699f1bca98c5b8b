"""Runs a part of one test module, so that a long module can run as
several meson tests side by side (tests/meson.build):

    run_classes.py MODULE CLASS...            those classes of MODULE
    run_classes.py MODULE --except CLASS...   every other class of MODULE

Each part runs the module's setUpModule itself.  With --except, a class
added to MODULE later runs too: no test is left out by a stale list.
A CLASS that MODULE does not have is an error.  Output and exit status
are unittest's (-v).
"""

import importlib
import sys
import unittest


def classes(module):
    """The names of the TestCase classes defined in MODULE."""
    return sorted(name for name, obj in vars(module).items()
                  if isinstance(obj, type)
                  and issubclass(obj, unittest.TestCase)
                  and obj.__module__ == module.__name__)


def main(argv):
    if len(argv) < 3:
        sys.stderr.write(__doc__)
        return 2
    module = importlib.import_module(argv[1])
    names = argv[2:]
    exclude = names[0] == "--except"
    if exclude:
        names = names[1:]
    have = classes(module)
    unknown = sorted(set(names) - set(have))
    if unknown:
        sys.stderr.write("run_classes: %s has no class %s\n"
                         % (argv[1], ", ".join(unknown)))
        return 2
    chosen = [n for n in have if (n in names) != exclude]
    loader = unittest.defaultTestLoader
    suite = unittest.TestSuite(
        loader.loadTestsFromTestCase(getattr(module, n)) for n in chosen)
    result = unittest.TextTestRunner(verbosity=2).run(suite)
    if result.testsRun == 0:
        sys.stderr.write("run_classes: no test ran\n")
        return 1
    return 0 if result.wasSuccessful() else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
