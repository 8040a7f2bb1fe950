#include "codec/decoder.h"
