// The GPU build of the bench: the same source as the host-only build, compiled by nvcc.
#include "main.cpp"
