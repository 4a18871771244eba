"""What colorgan needs from the computer it runs on, for every command alike: files replaced
atomically, OpenMP threads that share the cores, the memory still free, and the machine's
description for reports. It imports nothing else of colorgan's."""
