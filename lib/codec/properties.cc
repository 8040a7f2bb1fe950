#include "codec/properties.h"
