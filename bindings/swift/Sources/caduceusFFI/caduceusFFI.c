/* Empty: the caduceusFFI target only carries include/caduceusFFI.h for Swift. */
