# Installs the package into a scratch prefix and builds an outside project against it with
# find_package(fftconv CONFIG REQUIRED): a host-only C++ program (run: it checks a 2D forward with padding,
# stride, dilation and groups, then trains a layer a few steps with channels-last views, a saved state and its
# own memory resource; fftconv::vendor and automatic's vendor candidate where oneDNN was found) and, when nvcc
# exists, its CUDA twin (built; run where a GPU is). The host program links libdnnl exactly where the build found
# oneDNN; configured again with -DFFTCONV_WITH_ONEDNN=OFF (the installed package finds the vendor libraries
# anew, under the consumer's options), it builds, runs without the vendor candidate and links no libdnnl.
if(NOT FFTCONV_INSTALL)
  return()
endif()
add_test(NAME package.find_package
         COMMAND ${CMAKE_COMMAND} -D "BUILD_DIR=${CMAKE_BINARY_DIR}" -D "WORK_DIR=${CMAKE_CURRENT_BINARY_DIR}/package_test"
                 -D "CONSUMER_DIR=${CMAKE_CURRENT_SOURCE_DIR}/package" -D "GENERATOR=${CMAKE_GENERATOR}"
                 -D "WITH_CUDA=${FFTCONV_HAS_CUDA_COMPILER}" -D "CUDA_ARCHITECTURES=${CMAKE_CUDA_ARCHITECTURES}"
                 -D "CXX_COMPILER=${CMAKE_CXX_COMPILER}" -D "HAVE_ONEDNN=${FFTCONV_HAVE_ONEDNN}"
                 -P "${CMAKE_CURRENT_SOURCE_DIR}/package/run.cmake")
set_tests_properties(package.find_package PROPERTIES LABELS host TIMEOUT 900)
