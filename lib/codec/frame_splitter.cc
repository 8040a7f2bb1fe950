#include "codec/frame_splitter.h"
