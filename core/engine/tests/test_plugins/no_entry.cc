// Deliberately broken test plugin: a loadable shared library that exports a
// function, but not tracemark_scheme_descriptor.
extern "C" __attribute__((visibility("default"))) int tracemark_not_a_scheme(void) { return 42; }
