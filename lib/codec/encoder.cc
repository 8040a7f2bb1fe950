#include "codec/encoder.h"
