# Test discovery (see the top of CMakeLists.txt). Labels: unit, integration, fuzz.
set(MN_TEST_ENV
    "MN_SOURCE_DIR=${PROJECT_SOURCE_DIR}"
    "MN_BUILD_DIR=${CMAKE_BINARY_DIR}"
    "MN_BIN_DIR=${CMAKE_BINARY_DIR}/bin"
    "ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:detect_stack_use_after_return=0"
    "UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1"
    "LSAN_OPTIONS=suppressions=${PROJECT_SOURCE_DIR}/tests/lsan.supp")

if(NOT MN_FUZZ)
    pkg_check_modules(CRITERION REQUIRED IMPORTED_TARGET criterion)
    file(GLOB unit_dirs LIST_DIRECTORIES true CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/tests/unit/*)
    foreach(dir IN LISTS unit_dirs)
        if(NOT IS_DIRECTORY ${dir})
            continue()
        endif()
        get_filename_component(layer ${dir} NAME)
        file(GLOB tests CONFIGURE_DEPENDS ${dir}/test_*.c)
        file(GLOB helpers CONFIGURE_DEPENDS ${dir}/helper_*.c)
        foreach(t IN LISTS tests)
            get_filename_component(base ${t} NAME_WE)
            set(tname unit_${layer}_${base})
            add_executable(${tname} ${t} ${helpers})
            set_target_properties(${tname} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
            target_include_directories(${tname} PRIVATE ${PROJECT_SOURCE_DIR}/src ${dir})
            target_compile_options(${tname} PRIVATE ${MN_WARNINGS} -Wno-missing-prototypes)
            if(TARGET mn_${layer})
                target_link_libraries(${tname} PRIVATE mn_${layer})
            else()
                target_link_libraries(${tname} PRIVATE manouche)
            endif()
            target_link_libraries(${tname} PRIVATE PkgConfig::CRITERION ${MN_EXTERNAL_LIBS})
            # ORM tests run unchanged on SQLite and, through scripts/with-pg (a private
            # PostgreSQL server on a loopback port), on PostgreSQL; db/test_pg* need the server.
            set(on_sqlite TRUE)
            set(on_pg FALSE)
            if(layer STREQUAL "orm")
                set(on_pg TRUE)
            elseif(layer STREQUAL "db" AND base MATCHES "^test_(pg|pool)")
                set(on_sqlite FALSE)
                set(on_pg TRUE)
            endif()
            if(on_sqlite)
                add_test(NAME ${tname} COMMAND ${tname} --jobs 2 --full-stats
                         WORKING_DIRECTORY ${CMAKE_BINARY_DIR})
                set_tests_properties(${tname} PROPERTIES LABELS "unit;${layer}"
                                     ENVIRONMENT "${MN_TEST_ENV}" TIMEOUT 300)
            endif()
            if(on_pg)
                add_test(NAME ${tname}_pg
                         COMMAND bash ${PROJECT_SOURCE_DIR}/scripts/with-pg
                                 $<TARGET_FILE:${tname}> --jobs 2 --full-stats
                         WORKING_DIRECTORY ${CMAKE_BINARY_DIR})
                set_tests_properties(${tname}_pg PROPERTIES LABELS "unit;${layer};postgresql"
                                     ENVIRONMENT "${MN_TEST_ENV}" TIMEOUT 300)
            endif()
        endforeach()
    endforeach()

    # Integration tests: scripts that drive the real programs in build/bin over real sockets.
    file(GLOB itests CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/tests/integration/test_*.sh
                                       ${PROJECT_SOURCE_DIR}/tests/integration/test_*.py)
    foreach(t IN LISTS itests)
        get_filename_component(base ${t} NAME_WE)
        get_filename_component(ext ${t} EXT)
        if(ext STREQUAL ".py")
            set(cmd python3 ${t})
        else()
            set(cmd bash ${t})
        endif()
        add_test(NAME integration_${base} COMMAND ${cmd} WORKING_DIRECTORY ${CMAKE_BINARY_DIR})
        set_tests_properties(integration_${base} PROPERTIES LABELS "integration"
                             ENVIRONMENT "${MN_TEST_ENV}" TIMEOUT 600)
    endforeach()
else()
    # libFuzzer targets, each run briefly on a copy of its committed seed corpus.
    file(GLOB fuzzers CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/tests/fuzz/fuzz_*.c)
    foreach(f IN LISTS fuzzers)
        get_filename_component(base ${f} NAME_WE)
        string(REGEX REPLACE "^fuzz_([a-z]+)_.*" "\\1" layer ${base})
        add_executable(${base} ${f})
        set_target_properties(${base} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/fuzz)
        target_include_directories(${base} PRIVATE ${PROJECT_SOURCE_DIR}/src)
        target_link_options(${base} PRIVATE -fsanitize=fuzzer)
        if(TARGET mn_${layer})
            target_link_libraries(${base} PRIVATE mn_${layer})
        else()
            target_link_libraries(${base} PRIVATE manouche)
        endif()
        target_link_libraries(${base} PRIVATE ${MN_EXTERNAL_LIBS})
        set(seed ${PROJECT_SOURCE_DIR}/tests/fuzz/corpus/${base})
        set(work ${CMAKE_BINARY_DIR}/fuzz-corpus/${base})
        file(MAKE_DIRECTORY ${work})
        set(dict "")
        if(EXISTS ${PROJECT_SOURCE_DIR}/tests/fuzz/${base}.dict)
            set(dict -dict=${PROJECT_SOURCE_DIR}/tests/fuzz/${base}.dict)
        endif()
        add_test(NAME ${base} COMMAND ${base} -max_total_time=${MN_FUZZ_SECONDS} -timeout=10
                 -rss_limit_mb=2048 -print_final_stats=1 ${dict} ${work} ${seed})
        set_tests_properties(${base} PROPERTIES LABELS "fuzz" ENVIRONMENT "${MN_TEST_ENV}"
                             TIMEOUT 300)
    endforeach()
endif()
