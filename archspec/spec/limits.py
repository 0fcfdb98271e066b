"""Bounds on sizes a spec may ask for.

They exist so that a typo (a depth of 10**9, a width of 10**7) is refused while the spec
is validated, before any graph node or weight is allocated. Each bound is far above any
published network (resnet1202 has 200 blocks a stage; the widest torchvision ResNet has
2048 channels), so no real design runs into them.
"""

MAX_DEPTH = 4096  # blocks in one stage
MAX_STAGES = 64
MAX_TOTAL_BLOCKS = 20_000  # blocks in the whole network
MAX_CHANNELS = 65_536  # any width, growth or class count that becomes a channel dimension
MAX_CLASSES = 1_000_000
MAX_INPUT_SIZE = 16_384  # pixels on a side
MAX_INPUT_CHANNELS = 4096
MAX_KERNEL = 31
MAX_STRIDE = 16
MAX_GROUPS = 4096
MAX_BATCH = 1_048_576  # samples in one batch (summary, gradflow): far past any real batch
