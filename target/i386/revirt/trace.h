#include "trace/trace-target_i386_revirt.h"
