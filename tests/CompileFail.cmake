# Misuse must not compile, and the compiler must say why. Each case is a target outside `all`; its test
# builds it and passes when the build output carries the expected message.
function(fftconv_add_compile_fail_test name source pattern)
  add_executable(compile_fail_${name} EXCLUDE_FROM_ALL "${CMAKE_CURRENT_SOURCE_DIR}/compile_fail/${source}")
  target_link_libraries(compile_fail_${name} PRIVATE fftconv::fftconv)
  add_test(NAME compile_fail.${name}
           COMMAND ${CMAKE_COMMAND} --build "${CMAKE_BINARY_DIR}" --target compile_fail_${name})
  set_tests_properties(compile_fail.${name} PROPERTIES PASS_REGULAR_EXPRESSION "${pattern}" LABELS host)
endfunction()

fftconv_add_compile_fail_test(unknown_policy unknown_policy.cpp "the policy P must be fftconv::naive, fftconv::im2col")
fftconv_add_compile_fail_test(device_from_host_compiler device_from_host_compiler.cpp
                              "needs this translation unit compiled as CUDA")
fftconv_add_compile_fail_test(integer_elements integer_elements.cpp "T must be float, double, fftconv::bf16")
fftconv_add_compile_fail_test(weights_wider_than_float weights_wider_than_float.cpp
                              "the weights. type W must be T, or float when T is 16-bit")
# fftconv::vendor on the host: double, which oneDNN lacks on the CPU (only where oneDNN is on; without it the
# next case's message comes first), and any layer in a translation unit without oneDNN.
if(FFTCONV_HAVE_ONEDNN)
  fftconv_add_compile_fail_test(vendor_double_on_host vendor_double_on_host.cpp
                                "fftconv::vendor on fftconv::host: oneDNN has no double convolution on the CPU")
endif()
fftconv_add_compile_fail_test(vendor_without_onednn vendor_without_onednn.cpp
                              "fftconv::vendor on fftconv::host needs oneDNN 2.x")
