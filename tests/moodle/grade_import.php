<?php
// Imports a gradebook CSV into a fresh course of the local Moodle (shared/tools/moodle) with the
// code behind Grades > Import > CSV file (grade/import/csv/index.php): gradeimport_csv_load_data
// reads the file, prepare_import_grade_data maps one column to a user field and one to a new grade
// item, grade_import_commit writes the grades. Prints JSON: the status, Moodle's errors and the
// grade each user got (null: no grade). The course is deleted afterwards.
//
//   php grade_import.php GRADES.csv USERS.json "Email address" useremail "midterm"
//
// USERS.json: [{"username", "firstname", "lastname", "email"}], enrolled as students first.
define('CLI_SCRIPT', true);
require(getenv('MOODLE_DIR') . '/config.php');
require_once($CFG->libdir . '/gradelib.php');
require_once($CFG->libdir . '/csvlib.class.php');
require_once($CFG->libdir . '/enrollib.php');
require_once($CFG->dirroot . '/course/lib.php');
require_once($CFG->dirroot . '/user/lib.php');
require_once($CFG->dirroot . '/grade/import/lib.php');

[$script, $csvpath, $userspath, $mapfrom, $mapto, $itemcolumn] = $argv;
\core\session\manager::set_user(get_admin());
$result = ['status' => null, 'errors' => [], 'grades' => [], 'feedback' => []];
$course = null;
try {
    $catid = $DB->get_field_sql('SELECT MIN(id) FROM {course_categories}');
    $course = create_course((object) ['fullname' => 'bpquiz gradebook import',
        'shortname' => 'bpquiz-import-' . random_string(6), 'category' => $catid]);
    $manual = enrol_get_plugin('manual');
    $instance = $DB->get_record('enrol', ['courseid' => $course->id, 'enrol' => 'manual'], '*', IGNORE_MULTIPLE);
    if (!$instance) {
        $manual->add_default_instance($course);
        $instance = $DB->get_record('enrol', ['courseid' => $course->id, 'enrol' => 'manual'], '*', IGNORE_MULTIPLE);
    }
    $student = $DB->get_field('role', 'id', ['shortname' => 'student'], MUST_EXIST);
    $users = [];
    foreach (json_decode(file_get_contents($userspath), true) as $u) {
        $record = $DB->get_record('user', ['username' => $u['username'], 'deleted' => 0,
            'mnethostid' => $CFG->mnet_localhost_id]);
        if (!$record) {
            $id = user_create_user((object) ($u + ['auth' => 'manual', 'confirmed' => 1,
                'password' => 'Pass-' . random_string(12), 'mnethostid' => $CFG->mnet_localhost_id]),
                true, false);
            $record = $DB->get_record('user', ['id' => $id]);
        } else if ($record->email !== $u['email']) {
            user_update_user((object) ['id' => $record->id, 'email' => $u['email']], false, false);
        }
        $manual->enrol_user($instance, $record->id, $student);
        $users[$record->id] = $u['email'];
    }

    // What index.php does with the uploaded file, then with the mapping form.
    $import = new gradeimport_csv_load_data();
    $import->load_csv_content(file_get_contents($csvpath), 'UTF-8', 'comma', 10);
    if ($import->get_error()) {
        throw new moodle_exception('generalexceptionmessage', 'error', '', $import->get_error());
    }
    $reader = new csv_import_reader($import->get_iid(), 'grade');
    $header = $reader->get_columns();
    $importcode = get_new_importcode();
    $form = (object) ['mapfrom' => array_search($mapfrom, $header), 'mapto' => $mapto,
        'importcode' => $importcode, 'forceimport' => false, 'id' => $course->id, 'map' => 1];
    foreach ($header as $i => $name) {
        $form->{'mapping_' . $i} = $name === $itemcolumn ? 'new' : '0';
    }
    ob_start();
    $status = $import->prepare_import_grade_data($header, $form, $reader, $course->id, false, 0, true);
    if ($status) {
        $status = grade_import_commit($course->id, $importcode, false, false);
    }
    ob_end_clean();
    $result['status'] = (bool) $status;
    $result['errors'] = array_values($import->get_gradebookerrors() ?? []);
    $item = $DB->get_record('grade_items', ['courseid' => $course->id, 'itemname' => $itemcolumn]);
    foreach ($users as $userid => $email) {
        $grade = $item ? $DB->get_record('grade_grades', ['itemid' => $item->id, 'userid' => $userid]) : null;
        $result['grades'][$email] = $grade && $grade->finalgrade !== null ? (float) $grade->finalgrade : null;
    }
    $result['grademax'] = $item ? (float) $item->grademax : null;
} catch (Throwable $e) {
    $result['fatal'] = get_class($e) . ': ' . $e->getMessage();
} finally {
    if ($course) {
        ob_start();
        delete_course($course, false);
        ob_end_clean();
    }
}
echo json_encode($result, JSON_PRETTY_PRINT | JSON_UNESCAPED_UNICODE | JSON_UNESCAPED_SLASHES) . "\n";
