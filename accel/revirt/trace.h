#include "trace/trace-accel_revirt.h"
