"""One batch of scenes, synced stage by stage (syncer.py).

BATCH_SIZE is how many jobs the worker claims at once. Each batch has costs of its own
that do not grow with it (one Stash read, one multi-get, one collection pass, one
flush of sync state, and the last few items' wait on Plex with no other work beside
it), so bigger batches spread them thinner: 100 scenes ran a 10,000-scene first sync
10-15% faster than 50 (docs/performance.md). A batch that dies is synced again,
which a larger batch makes only slightly longer.
"""

BATCH_SIZE = 100
