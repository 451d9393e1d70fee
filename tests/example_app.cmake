# tests/example_app.cmake: end-to-end tests of the fashion_mnist app through example_app_check.py (outputs, figures,
# evaluate, resume after a simulated and a real kill and after SIGTERM / SIGINT, the iteration lock, NaN guard, bad
# flags, --optimizer / --early-stopping, --lr-schedule / --reduce-lr-on-plateau / --checkpoint-best, evaluate of
# Keras files compiled with other losses, and the study as Slurm jobs); they skip (77) without the data
# (evaluate_losses also without the Keras fixtures or h5py).
find_package(CLI11 CONFIG QUIET)
find_package(Python3 COMPONENTS Interpreter QUIET)
# The same conditions as examples/CMakeLists.txt, which is read after this file (so the target is not known yet).
if(NNLITE_BUILD_EXAMPLES AND NNLITE_HAVE_IO AND NNLITE_HAVE_PLOT AND CLI11_FOUND AND Python3_Interpreter_FOUND)
  foreach(_mode end_to_end resume lock kill sigterm sigint nan_guard bad_flags train_options lr_options evaluate_losses)
    add_test(NAME example_app_${_mode}
             COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_LIST_DIR}/example_app_check.py ${_mode}
                     $<TARGET_FILE:fashion_mnist> ${CMAKE_CURRENT_BINARY_DIR}/example_app/${_mode})
    # Two threads for the machine, one for the app: bitwise resume is promised single-threaded.
    set_tests_properties(example_app_${_mode} PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 300 PROCESSORS 1
                         ENVIRONMENT "FASHION_MNIST_DIR=${PROJECT_SOURCE_DIR}/data/fashion;KERAS_FIXTURES_DIR=${NNLITE_SHARED_DIR}/fixtures/keras")
  endforeach()
  # The study on a one-node Slurm cluster that slurm_check.py starts and always stops (root, slurm-wlm, munge; it
  # skips only without their binaries or the data). Its own deadline (420 s) ends it before this TIMEOUT.
  add_test(NAME example_app_slurm
           COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_LIST_DIR}/slurm_check.py $<TARGET_FILE:fashion_mnist>
                   ${PROJECT_SOURCE_DIR}/examples/fashion_mnist/slurm/submit.sh
                   ${CMAKE_CURRENT_BINARY_DIR}/example_app/slurm)
  set_tests_properties(example_app_slurm PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 600 PROCESSORS 2
                       ENVIRONMENT "FASHION_MNIST_DIR=${PROJECT_SOURCE_DIR}/data/fashion")
endif()
