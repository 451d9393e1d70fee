# The layering of include/nnlite (core <- kernels <- layers <- optim <- model <- io, plot): no header includes one
# from a higher layer. tests/scripts/check_layering.py reads the include lines.
find_program(NNLITE_PYTHON3 python3)
if(NNLITE_PYTHON3)
  add_test(NAME layering COMMAND ${NNLITE_PYTHON3} ${CMAKE_CURRENT_SOURCE_DIR}/scripts/check_layering.py
    ${PROJECT_SOURCE_DIR}/include)
endif()
