# cmake -P script behind the package.find_package test (see PackageTest.cmake).
include("${CMAKE_CURRENT_LIST_DIR}/elf_needed.cmake")  # expect_linked
function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "failed (${rc}): ${ARGN}")
  endif()
endfunction()

file(REMOVE_RECURSE "${WORK_DIR}")
run(${CMAKE_COMMAND} --install "${BUILD_DIR}" --prefix "${WORK_DIR}/prefix")
run(${CMAKE_COMMAND} -S "${CONSUMER_DIR}" -B "${WORK_DIR}/build" -G "${GENERATOR}"
    "-DCMAKE_PREFIX_PATH=${WORK_DIR}/prefix" "-DCMAKE_CXX_COMPILER=${CXX_COMPILER}" "-DWITH_CUDA=${WITH_CUDA}"
    "-DCMAKE_CUDA_ARCHITECTURES=${CUDA_ARCHITECTURES}")
run(${CMAKE_COMMAND} --build "${WORK_DIR}/build")
run("${WORK_DIR}/build/consumer_host")
expect_linked("${WORK_DIR}/build/consumer_host" "libdnnl.so" "${HAVE_ONEDNN}" "fftconv::fftconv as the build found oneDNN")
if(WITH_CUDA)
  run("${WORK_DIR}/build/consumer_cuda")
endif()

# The consumer that turns the vendor library off at its own configure: FFTCONV_WITH_ONEDNN=OFF reaches the
# installed FftconvDependencies.cmake, and fftconv::host then defines FFTCONV_HAS_ONEDNN=0 and links no oneDNN.
run(${CMAKE_COMMAND} -S "${CONSUMER_DIR}" -B "${WORK_DIR}/build-without-onednn" -G "${GENERATOR}"
    "-DCMAKE_PREFIX_PATH=${WORK_DIR}/prefix" "-DCMAKE_CXX_COMPILER=${CXX_COMPILER}" -DWITH_CUDA=OFF
    -DFFTCONV_WITH_ONEDNN=OFF)
run(${CMAKE_COMMAND} --build "${WORK_DIR}/build-without-onednn" --target consumer_host)
run("${WORK_DIR}/build-without-onednn/consumer_host")
expect_linked("${WORK_DIR}/build-without-onednn/consumer_host" "libdnnl.so" FALSE "configured with FFTCONV_WITH_ONEDNN=OFF")
