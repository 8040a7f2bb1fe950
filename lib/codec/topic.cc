#include "codec/topic.h"
