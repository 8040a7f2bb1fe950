#include "codec/reason_code.h"
