# make install: the library (static and shared), public headers, a pkg-config file and a CMake
# package, so that an app builds with either `pkg-config --cflags --libs manouche` or
# `find_package(manouche)` + `target_link_libraries(app manouche::manouche)`.
include(CMakePackageConfigHelpers)

install(TARGETS manouche manouche_shared EXPORT manoucheTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
        INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/manouche DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(EXPORT manoucheTargets NAMESPACE manouche:: DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/manouche)

# jansson is public: mn_req_json() and mn_json() hand out json_t, so an app calls json_*
# itself and must link it. The others are used inside the library only.
set(MN_PC_REQUIRES_PUBLIC "jansson")
set(MN_PC_REQUIRES "libpcre2-8 sqlite3 libpq hiredis libcrypto libssl zlib libargon2")
# The .pc file finds its prefix from its own place (${pcfiledir}), so that
# `cmake --install build --prefix DIR` and copied trees work, not only CMAKE_INSTALL_PREFIX.
if(IS_ABSOLUTE "${CMAKE_INSTALL_LIBDIR}")
    set(MN_PC_PREFIX "${CMAKE_INSTALL_PREFIX}")
else()
    file(RELATIVE_PATH MN_PC_UP "/mn/${CMAKE_INSTALL_LIBDIR}/pkgconfig" "/mn")
    string(REGEX REPLACE "/$" "" MN_PC_UP "${MN_PC_UP}")
    set(MN_PC_PREFIX "\${pcfiledir}/${MN_PC_UP}")
endif()
configure_file(${PROJECT_SOURCE_DIR}/cmake/manouche.pc.in ${CMAKE_BINARY_DIR}/manouche.pc @ONLY)
install(FILES ${CMAKE_BINARY_DIR}/manouche.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)

configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/manoucheConfig.cmake.in
    ${CMAKE_BINARY_DIR}/manoucheConfig.cmake
    INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/manouche)
write_basic_package_version_file(${CMAKE_BINARY_DIR}/manoucheConfigVersion.cmake
    COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_BINARY_DIR}/manoucheConfig.cmake ${CMAKE_BINARY_DIR}/manoucheConfigVersion.cmake
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/manouche)
