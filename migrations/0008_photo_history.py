# Photo history, retake requests and the college an unmatched photo points to.
from peewee import *


def up(migrator, db):
    class College(Model):
        class Meta:
            database = db
            table_name = 'college'

    class Photo(Model):
        class Meta:
            database = db
            table_name = 'photo'

    class Record(Model):
        class Meta:
            database = db
            table_name = 'record'

    class User(Model):
        class Meta:
            database = db
            table_name = 'user'

    migrator.migrate(
        migrator.add_column('photo', 'college_id', ForeignKeyField(
            College, field=College.id, null=True, on_delete='SET NULL')),
        migrator.add_column('record', 'retake_on', DateField(null=True)),
        migrator.add_column('record', 'retake_place', CharField(max_length=200, default='')),
        migrator.add_column('record', 'retake_at', DateTimeField(null=True)),
    )

    class PhotoHistory(Model):
        record = ForeignKeyField(Record, on_delete='CASCADE')
        photo = ForeignKeyField(Photo, null=True, on_delete='SET NULL')
        replaced_at = DateTimeField()
        replaced_by = ForeignKeyField(User, null=True, on_delete='SET NULL')
        reason = TextField(default='')
        class Meta:
            database = db
            table_name = 'photo_history'
    db.create_tables([PhotoHistory])

    # An unmatched photo belongs to the college of the record its file name
    # or manifest ID number points to (the rest stay admin-only).
    db.execute_sql(
        "UPDATE photo SET college_id = (SELECT r.college_id FROM record r"
        " WHERE (photo.src_id_number <> '' AND r.id_number = photo.src_id_number)"
        " OR (photo.src_student_no <> '' AND r.student_no = photo.src_student_no)"
        " ORDER BY r.id LIMIT 1)"
    )


def down(migrator, db):
    migrator.migrate(migrator.drop_table('photo_history'))
    migrator.migrate(
        migrator.drop_column('record', 'retake_at'),
        migrator.drop_column('record', 'retake_place'),
        migrator.drop_column('record', 'retake_on'),
        migrator.drop_column('photo', 'college_id'),
    )
