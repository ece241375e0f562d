# `cmake --install` writes the headers and a CMake package: find_package(fftconv CONFIG REQUIRED) then
# target_link_libraries(app PRIVATE fftconv::fftconv).
include(CMakePackageConfigHelpers)

set(FFTCONV_INSTALL_CMAKEDIR "${CMAKE_INSTALL_LIBDIR}/cmake/fftconv")
install(DIRECTORY "${PROJECT_SOURCE_DIR}/include/fftconv" DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}")
configure_package_config_file("${PROJECT_SOURCE_DIR}/cmake/fftconvConfig.cmake.in"
                              "${PROJECT_BINARY_DIR}/fftconvConfig.cmake"
                              INSTALL_DESTINATION "${FFTCONV_INSTALL_CMAKEDIR}" PATH_VARS CMAKE_INSTALL_INCLUDEDIR)
write_basic_package_version_file("${PROJECT_BINARY_DIR}/fftconvConfigVersion.cmake"
                                 COMPATIBILITY SameMinorVersion ARCH_INDEPENDENT)
install(FILES "${PROJECT_BINARY_DIR}/fftconvConfig.cmake" "${PROJECT_BINARY_DIR}/fftconvConfigVersion.cmake"
              "${PROJECT_SOURCE_DIR}/cmake/FftconvDependencies.cmake" "${PROJECT_SOURCE_DIR}/cmake/FftconvTargets.cmake"
        DESTINATION "${FFTCONV_INSTALL_CMAKEDIR}")
